import { TunekitError } from '../errors.js';
import type { ApiErrorBody } from './messages.js';

/** An error answered with OpenAI's body, `{"error": {"message", "type", "param", "code"}}`, and an HTTP status. */
export class ApiError extends TunekitError {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    code: string | null = null,
    readonly type = errorType(status),
  ) {
    super(code ?? 'E_SERVE', message);
    this.apiCode = code;
  }

  readonly apiCode: string | null;

  get body(): ApiErrorBody {
    return { status: this.status, message: this.message, type: this.type, param: this.param, code: this.apiCode };
  }

  static from(body: ApiErrorBody): ApiError {
    return new ApiError(body.status, body.message, body.param, body.code, body.type);
  }
}

/** The `type` OpenAI's API gives each status. */
function errorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The JSON an error response carries. */
export function errorResponse(body: ApiErrorBody): { error: Omit<ApiErrorBody, 'status'> } {
  return { error: { message: body.message, type: body.type, param: body.param, code: body.code } };
}
