/** The Service's HTTP port: callers use the plain service URL, without a port. */
export const SERVICE_HTTP_PORT = 80;
