import type { FastifyError, FastifyReply } from 'fastify';
import { ApiError, errorResponse } from './api-error.js';
import { SHAPES } from './schemas.js';

/** `/messages/0/content` → `messages[0].content` (OpenAI's `param`). */
function paramName(pointer: string, extra?: string): string | null {
  const parts = pointer.split('/').filter((part) => part !== '');
  if (extra !== undefined) parts.push(extra);
  if (parts.length === 0) return null;
  return parts.map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`)).join('');
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** A schema failure as one 400 naming the field. */
function validationError(errors: AjvError[]): ApiError {
  const shapeError = errors.find((error) => error.keyword === 'anyOf');
  const error = shapeError ?? errors[0];
  const extra = typeof error.params.missingProperty === 'string' ? error.params.missingProperty : typeof error.params.additionalProperty === 'string' ? error.params.additionalProperty : undefined;
  const param = paramName(error.instancePath, extra);
  const leaf = error.instancePath.split('/').filter((part) => !/^\d*$/.test(part)).pop() ?? '';
  if (error.keyword === 'required') return new ApiError(400, `${param} is required`, param, 'missing_required_parameter');
  if (error.keyword === 'additionalProperties') return new ApiError(400, `unrecognized request argument supplied: ${param}`, param, 'unknown_parameter');
  if (error.keyword === 'anyOf') return new ApiError(400, `${param} must be ${SHAPES[leaf] ?? 'of another shape'}`, param, 'invalid_type');
  if (error.keyword === 'type') {
    const types = ([] as unknown[]).concat(error.params.type).filter((type) => type !== 'null');
    return new ApiError(400, `${param ?? 'the body'} must be of type ${types.join(' or ')}`, param, 'invalid_type');
  }
  return new ApiError(400, `${param ?? 'the body'} ${error.message ?? 'is invalid'}`, param, 'invalid_value');
}

/** Any error a route or Fastify raised, as OpenAI's body. */
export function toApiError(error: FastifyError | Error): ApiError {
  if (error instanceof ApiError) return error;
  const fastifyError = error as FastifyError & { validation?: AjvError[] };
  if (fastifyError.validation !== undefined) return validationError(fastifyError.validation);
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'the request body is larger than this server accepts', null, 'body_too_large');
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError(415, 'send the body as application/json', null, 'unsupported_media_type');
  if (fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new ApiError(400, 'the body is empty: send a JSON object', null, 'invalid_json');
  const status = fastifyError.statusCode ?? 500;
  if (status === 400) return new ApiError(400, `the body is not valid JSON: ${error.message}`, null, 'invalid_json');
  return new ApiError(status, status >= 500 ? `internal error: ${error.message}` : error.message);
}

export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.status).type('application/json').send(errorResponse(error.body));
}
