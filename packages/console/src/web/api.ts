/** The console API as the page sees it. The session and CSRF token live only in this module's memory. */
let session: { id: string; csrf: string } | undefined;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function parse(response: Response): Promise<unknown> {
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) {
    if (response.status === 401 && session !== undefined) {
      session = undefined;
      onLoggedOut();
    }
    throw new ApiError(response.status, body.error ?? `HTTP ${response.status}`);
  }
  return body;
}

let onLoggedOut: () => void = () => {};
export function whenLoggedOut(callback: () => void): void {
  onLoggedOut = callback;
}

export function loggedIn(): boolean {
  return session !== undefined;
}

export async function login(token: string): Promise<void> {
  const response = await fetch("api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const body = (await parse(response)) as { session: string; csrf: string };
  session = { id: body.session, csrf: body.csrf };
}

export async function view<T>(name: string): Promise<T> {
  const response = await fetch(`api/views/${name}`, {
    headers: { authorization: `Bearer ${session?.id ?? ""}` },
  });
  return (await parse(response)) as T;
}

export async function action(name: string, body: Record<string, unknown> = {}): Promise<string> {
  const response = await fetch(`api/actions/${name}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${session?.id ?? ""}`,
      "x-csrf-token": session?.csrf ?? "",
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
  return ((await parse(response)) as { message: string }).message;
}

export async function logout(): Promise<void> {
  if (session === undefined) return;
  await fetch("api/logout", {
    method: "POST",
    headers: { authorization: `Bearer ${session.id}`, "x-csrf-token": session.csrf },
  }).catch(() => undefined);
  session = undefined;
}
