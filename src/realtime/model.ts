/**
 * Close codes of the event stream besides 1001 (server shutting down). After 4001 reconnect with a
 * fresh credential; after 4002 and 4003 the credential is gone for good.
 */
export const CLOSE_CODES = {
  /** the access token or API key the socket was opened with expired */
  expired: 4001,
  /** the API key it was opened with was revoked */
  revoked: 4002,
  /** the account was deleted */
  accountDeleted: 4003,
} as const;
