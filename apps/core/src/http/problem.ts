import type { ErrorRequestHandler, RequestHandler } from "express";
import { z } from "zod";
import { redactSecrets } from "./request-context";

/** One wrong field of a request: dotted path (e.g. `jobs.3.payload.email`) and what is wrong. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * An RFC 9457 problem. Thrown anywhere in a request; the error handler writes it as
 * application/problem+json. `type` is a URN per kind of problem, stable for clients to match.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
  }
}

export function validationProblem(error: z.ZodError, prefix: (string | number)[] = [], title = "Invalid request"): HttpProblem {
  const errors = error.issues.map((issue) => ({
    field: [...prefix, ...issue.path].map(String).join(".") || "(root)",
    message: issue.message,
  }));
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join("; ");
  return new HttpProblem(400, "validation-error", title, detail, errors);
}

export const notFound = (detail: string) => new HttpProblem(404, "not-found", "Not found", detail);

/** Parses with a zod schema or throws a 400 problem naming each bad field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, prefix: (string | number)[] = []): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationProblem(parsed.error, prefix);
  return parsed.data;
}

export const routeNotFound: RequestHandler = (req) => {
  throw new HttpProblem(404, "not-found", "Not found", `No route for ${req.method} ${req.path}`);
};

/** body-parser's errors carry a `type`; each is a client mistake with its own status. */
const BODY_PARSER_PROBLEMS: Record<string, (e: { limit?: number }) => HttpProblem> = {
  "entity.parse.failed": () => new HttpProblem(400, "malformed-json", "Malformed JSON", "The request body is not valid JSON (or not a JSON object or array)."),
  "entity.too.large": (e) => new HttpProblem(413, "body-too-large", "Request body too large", `The body exceeds the limit of ${e.limit ?? "?"} bytes.`),
  "encoding.unsupported": () => new HttpProblem(415, "unsupported-encoding", "Unsupported content encoding"),
  "charset.unsupported": () => new HttpProblem(415, "unsupported-charset", "Unsupported charset", "JSON bodies must be UTF-8."),
  "request.aborted": () => new HttpProblem(400, "request-aborted", "Request aborted"),
  "entity.verify.failed": () => new HttpProblem(400, "malformed-json", "Malformed JSON"),
};

/** An http-errors error (body-parser's) that marks itself as a 4xx safe to expose. */
function isClientHttpError(error: unknown): error is { status: number } {
  const e = error as { status?: unknown; expose?: unknown };
  return e.expose === true && typeof e.status === "number" && e.status >= 400 && e.status < 500;
}

/**
 * The one error handler: problems and body-parser errors as they are, anything else as an
 * opaque 500 (logged with its stack, never sent). `mapUnexpected` lets the caller map failures
 * it expects (storage failures: 503) to a problem; those are logged at debug level only, since
 * their owner reports them (the store logs an outage once, not per refused request).
 */
export function problemHandler(options: { mapUnexpected?: (error: unknown) => HttpProblem | null }): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    let problem: HttpProblem;
    const bodyType = (error as { type?: string }).type;
    if (error instanceof HttpProblem) problem = error;
    // The router decodes path parameters; a malformed percent-encoding (`/jobs/%ZZ`) is the client's.
    else if (error instanceof URIError) problem = new HttpProblem(400, "malformed-url", "Malformed URL", "The URL holds a malformed percent-encoding.");
    else if (bodyType && BODY_PARSER_PROBLEMS[bodyType]) problem = BODY_PARSER_PROBLEMS[bodyType](error as { limit?: number });
    else if (isClientHttpError(error)) {
      // Other http-errors the body parser raises (e.g. a gzip body that does not inflate): the
      // client's mistake, but their messages come from zlib and the like, so none is passed on.
      problem = new HttpProblem(error.status, "unreadable-body", "Request body could not be read", "The body could not be decoded as sent.");
      req.log?.warn("unreadable request body", { error });
    } else {
      const expected = options.mapUnexpected?.(error);
      if (expected) req.log?.debug("request refused", { status: expected.status, error });
      else req.log?.error("request failed", { error });
      problem = expected ?? new HttpProblem(500, "internal-error", "Internal server error", "The error was logged; quote the request id when reporting it.");
    }
    if (res.headersSent) return;
    res
      .status(problem.status)
      .set(problem.headers)
      .type("application/problem+json")
      .json({
        type: `urn:taskq:problem:${problem.slug}`,
        title: problem.title,
        status: problem.status,
        ...(problem.detail !== undefined && { detail: problem.detail }),
        instance: redactSecrets(req.originalUrl),
        ...(req.id && { request_id: req.id }),
        ...(problem.errors && { errors: problem.errors }),
      });
  };
}
