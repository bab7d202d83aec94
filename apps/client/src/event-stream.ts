/** One Server-Sent Event as the text/event-stream format defines it. */
export interface ServerSentEvent {
  id: string | null;
  event: string;
  data: string;
}

/**
 * Parses a text/event-stream body (WHATWG HTML §9.2.6): `field: value` lines, an empty line
 * ends an event, `:` lines are comments (heartbeats), several `data` lines join with "\n".
 * Small enough that a dependency would cost more than it saves.
 */
export async function* parseEventStream(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let id: string | null = null;
  let event = "";
  let data: string[] = [];
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: RegExpExecArray | null;
    while ((newline = /\r\n|\n|\r/.exec(buffer)) !== null) {
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (newline[0] === "\r" && newline.index === buffer.length - 1) break;
      const line = buffer.slice(0, newline.index);
      buffer = buffer.slice(newline.index + newline[0].length);
      if (line === "") {
        if (data.length > 0) yield { id, event: event || "message", data: data.join("\n") };
        event = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id" && !value.includes("\0")) id = value;
    }
  }
}
