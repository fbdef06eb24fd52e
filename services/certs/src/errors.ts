/** Base of every error the certs service raises; `cause` carries what went wrong below. */
export class CertsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
