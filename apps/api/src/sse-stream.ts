import type { ServerResponse } from "node:http";

export interface SseEvent {
  id: string;
  event: string;
  data: string;
}

/** How long a browser's EventSource waits before reconnecting after a dropped connection. */
const RECONNECT_MS = 2_000;

/**
 * One text/event-stream response. Back-pressure: when the socket does not take a write
 * (res.write returns false), later events are not buffered but coalesced to the latest one,
 * written on 'drain'. Every event of a job stream carries the job's whole state, so the
 * latest event is all a slow client needs, and memory per client stays bounded.
 */
export class SseStream {
  private blocked = false;
  private latest: SseEvent | null = null;
  private ending = false;
  private readonly heartbeat: NodeJS.Timeout;
  /** Events replaced by a newer one while the client was not reading. */
  coalesced = 0;

  constructor(
    private readonly res: ServerResponse,
    heartbeatMs: number,
  ) {
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
      // nginx and similar proxies buffer responses unless told otherwise.
      "X-Accel-Buffering": "no",
    });
    res.socket?.setNoDelay(true);
    this.write(`retry: ${RECONNECT_MS}\n\n`);
    // A comment line every heartbeatMs keeps idle proxies and load balancers from closing the stream.
    this.heartbeat = setInterval(() => {
      if (!this.blocked) this.write(": keep-alive\n\n");
    }, heartbeatMs);
    this.heartbeat.unref();
    res.on("close", () => clearInterval(this.heartbeat));
  }

  get open(): boolean {
    return !this.ending && !this.res.destroyed;
  }

  send(event: SseEvent): void {
    if (!this.open) return;
    if (this.blocked) {
      if (this.latest) this.coalesced++;
      this.latest = event;
      return;
    }
    this.write(format(event));
  }

  /** Ends the response once what was sent (or coalesced) has been written. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    clearInterval(this.heartbeat);
    if (!this.blocked) this.res.end();
  }

  private write(text: string): void {
    if (this.res.write(text)) return;
    this.blocked = true;
    this.res.once("drain", () => {
      this.blocked = false;
      const next = this.latest;
      this.latest = null;
      if (next) this.write(format(next));
      if (!this.blocked && this.ending) this.res.end();
    });
  }
}

function format(e: SseEvent): string {
  // data must not contain raw newlines; JSON.stringify output never does.
  return `id: ${e.id}\nevent: ${e.event}\ndata: ${e.data}\n\n`;
}
