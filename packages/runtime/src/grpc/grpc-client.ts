import {
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientOptions,
  type ClientUnaryCall,
  credentials,
  InterceptingCall,
  type Interceptor,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";

export type GrpcClientConstructor<C extends Client> = new (
  address: string,
  credentials: ChannelCredentials,
  options?: Partial<ClientOptions>,
) => C;

/**
 * A client of a generated service on an insecure channel (admin ports bind loopback or a
 * private network) that sends `authorization: Bearer <token>` with every call.
 */
export function createGrpcClient<C extends Client>(
  ClientCtor: GrpcClientConstructor<C>,
  address: string,
  token: string,
  options: Partial<ClientOptions> = {},
): C {
  const bearer = credentials.createFromMetadataGenerator((_params, callback) => {
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${token}`);
    callback(null, metadata);
  });
  // Insecure channel credentials refuse to compose with call credentials, so they go on each call.
  const withBearer: Interceptor = (callOptions, nextCall) =>
    new InterceptingCall(
      nextCall({
        ...callOptions,
        credentials: callOptions.credentials ? callOptions.credentials.compose(bearer) : bearer,
      }),
    );
  const interceptors = [withBearer, ...(options.interceptors ?? [])];
  return new ClientCtor(address, credentials.createInsecure(), { ...options, interceptors });
}

type UnaryCallback<Res> = (error: ServiceError | null, response: Res) => void;
type UnaryClientMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: UnaryCallback<Res>,
) => ClientUnaryCall;

/** Names of the unary methods of a generated client. */
export type UnaryMethodName<C> = {
  // biome-ignore lint/suspicious/noExplicitAny: matches any request and response type
  [K in keyof C]: C[K] extends UnaryClientMethod<any, any> ? K : never;
}[keyof C] &
  string;

export type RequestOf<M> = M extends UnaryClientMethod<infer Req, unknown> ? Req : never;
export type ResponseOf<M> = M extends UnaryClientMethod<never, infer Res> ? Res : never;

export interface UnaryOptions {
  /** Default 10000. */
  deadlineMs?: number;
  metadata?: Metadata;
}

/** `await unary(client, "listWorkers", { pool: "" }, { deadlineMs: 2000 })` */
export function unary<C extends Client, M extends UnaryMethodName<C>>(
  client: C,
  method: M,
  request: RequestOf<C[M]>,
  options: UnaryOptions = {},
): Promise<ResponseOf<C[M]>> {
  const call = client[method] as unknown as UnaryClientMethod<RequestOf<C[M]>, ResponseOf<C[M]>>;
  const deadline = Date.now() + (options.deadlineMs ?? 10_000);
  return new Promise((resolve, reject) => {
    call.call(client, request, options.metadata ?? new Metadata(), { deadline }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}
