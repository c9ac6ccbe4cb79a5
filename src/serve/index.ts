export { startServer, type AccessLogEntry, type OpenAIServer, type ServeOptions } from './server.js';
export { ApiError } from './api-error.js';
export type { AdapterInfo } from './messages.js';
