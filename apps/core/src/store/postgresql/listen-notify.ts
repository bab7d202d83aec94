import { createHash } from "node:crypto";
import { Client } from "pg";
import type { Logger } from "../../logger";
import { type Database, postgresConnection } from "../database";
import type { SignalMessage, SignalTransport } from "../signal-transport";
import { postgresqlSignalStatements as sql } from "./statements";

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/** The channel of a schema. A channel name is an identifier (at most 63 bytes): a digest of the schema keeps it short. */
export function signalChannel(schema: string): string {
  return `taskq_${createHash("sha256").update(schema).digest("hex").slice(0, 24)}`;
}

/**
 * LISTEN/NOTIFY. Sending goes through the store's pool (several messages in one statement,
 * after the commit that they announce); receiving holds one dedicated connection, which is
 * re-opened with backoff when it drops, after which the caller is told that messages may have
 * been missed. The channel is per schema, since notifications are per database.
 */
export class PostgresSignalTransport implements SignalTransport {
  readonly updateFlushMs = 20;
  readonly channel: string;
  private client: Client | null = null;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private onMessage: (message: SignalMessage) => void = () => undefined;
  private onGap: () => void = () => undefined;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
  ) {
    this.channel = signalChannel(db.schema ?? "public");
  }

  async publish(messages: readonly SignalMessage[]): Promise<void> {
    await this.db.prisma.$executeRawUnsafe(sql.publish, this.channel, JSON.stringify(messages.map((m) => JSON.stringify(m))));
  }

  async listen(onMessage: (message: SignalMessage) => void, onGap: () => void): Promise<void> {
    this.onMessage = onMessage;
    this.onGap = onGap;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new Client({ ...postgresConnection(this.db.url), keepAlive: true, application_name: "taskq-listener" });
    client.on("notification", (n) => {
      if (n.channel !== this.channel || !n.payload) return;
      try {
        this.onMessage(JSON.parse(n.payload) as SignalMessage);
      } catch (error) {
        this.logger.warn("ignoring a malformed signal", { error, channel: n.channel });
      }
    });
    // 'error' and 'end' both fire when the server or the network drops the connection.
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      client.removeAllListeners("notification");
      client.end().catch(() => undefined);
      if (!this.closed) {
        this.logger.warn("lost the LISTEN connection; reconnecting", { error });
        this.scheduleReconnect(RECONNECT_MIN_MS);
      }
    };
    client.on("error", lost);
    client.on("end", () => lost());
    try {
      await client.connect();
      await client.query(sql.listen(this.channel));
    } catch (error) {
      client.removeAllListeners();
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
  }

  private scheduleReconnect(delayMs: number): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().then(
        () => {
          this.logger.info("LISTEN connection restored");
          this.onGap();
        },
        (error: unknown) => {
          if (this.closed) return;
          this.logger.warn("reconnecting the LISTEN connection failed; trying again", { error, inMs: delayMs * 2 });
          this.scheduleReconnect(Math.min(delayMs * 2, RECONNECT_MAX_MS));
        },
      );
    }, delayMs);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners("notification");
      await client.end().catch(() => undefined);
    }
  }
}
