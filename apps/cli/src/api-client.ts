import type { JobResource } from "../../core/src/jobs/job";
import { parseEventStream } from "./event-stream";

/** The server answered with an error (a problem+json body when it is taskq). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; errors?: { field: string; message: string }[] } | null,
  ) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
  }
}

/** The server could not be reached, or the connection broke. */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
}

export interface ListPage {
  items: JobResource[];
  next_cursor: string | null;
}

/** A thin client of the taskq HTTP API (the CLI never touches the store). */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string | undefined,
  ) {}

  submit(body: Record<string, unknown>, idempotencyKey?: string): Promise<JobResource> {
    return this.request("POST", "/jobs", body, idempotencyKey ? { "idempotency-key": idempotencyKey } : {});
  }

  get(id: string): Promise<JobResource> {
    return this.request("GET", `/jobs/${encodeURIComponent(id)}`);
  }

  list(query: Record<string, string | undefined>): Promise<ListPage> {
    const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
    return this.request("GET", `/jobs${params.size > 0 ? `?${params}` : ""}`);
  }

  cancel(id: string): Promise<JobResource> {
    return this.request("POST", `/jobs/${encodeURIComponent(id)}/cancel`);
  }

  retry(id: string): Promise<JobResource> {
    return this.request("POST", `/jobs/${encodeURIComponent(id)}/retry`);
  }

  /**
   * Follows GET /jobs/{id}/events until the job finishes, calling `onState` for each state.
   * A dropped connection is resumed with Last-Event-ID (up to `maxReconnects` times in a row).
   */
  async follow(id: string, onState: (job: JobResource) => void, maxReconnects = 5): Promise<JobResource> {
    let lastId: string | null = null;
    let last: JobResource | null = null;
    let failures = 0;
    for (;;) {
      try {
        const res = await this.fetch("GET", `/jobs/${encodeURIComponent(id)}/events`, undefined, { accept: "text/event-stream", ...(lastId && { "last-event-id": lastId }) });
        if (res.status === 204 && last) return last;
        if (!res.ok) throw await apiError(res);
        for await (const event of parseEventStream(res.body!)) {
          failures = 0;
          lastId = event.id ?? lastId;
          last = JSON.parse(event.data) as JobResource;
          onState(last);
        }
        if (last && ["DONE", "FAILED", "CANCELLED"].includes(last.status)) return last;
        throw new NetworkError("the event stream ended before the job finished");
      } catch (error) {
        if (error instanceof ApiError || ++failures > maxReconnects) throw error instanceof ApiError || error instanceof NetworkError ? error : new NetworkError(describe(error));
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  private async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.fetch(method, path, body, headers);
    if (!res.ok) throw await apiError(res);
    return (await res.json()) as T;
  }

  private async fetch(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<Response> {
    try {
      return await fetch(new URL(path, this.baseUrl), {
        method,
        headers: {
          ...(body !== undefined && { "content-type": "application/json" }),
          ...(this.apiKey && { authorization: `Bearer ${this.apiKey}` }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new NetworkError(`cannot reach ${this.baseUrl}: ${describe(error)}`);
    }
  }
}

async function apiError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let problem: ApiError["problem"] = null;
  try {
    problem = JSON.parse(text) as ApiError["problem"];
  } catch {
    problem = text ? { detail: text.slice(0, 500) } : null;
  }
  return new ApiError(res.status, problem);
}

/** fetch's errors hide the reason (ECONNREFUSED…) in `cause`. */
function describe(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}
