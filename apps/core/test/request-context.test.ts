import { redactSecrets } from "../src/http/request-context";

describe("access-log URLs", () => {
  test("an API key passed as ?api_key= never reaches the log", () => {
    expect(redactSecrets("/jobs/1/events?api_key=s3cret&last_event_id=4")).toBe("/jobs/1/events?api_key=[redacted]&last_event_id=4");
    expect(redactSecrets("/dashboard?x=1&API_KEY=s3cret")).toBe("/dashboard?x=1&API_KEY=[redacted]");
    expect(redactSecrets("/jobs?limit=5")).toBe("/jobs?limit=5");
    expect(redactSecrets("/jobs?limit=5&api%5Fkey=s3cret")).toBe("/jobs?limit=5&api%5Fkey=[redacted]");
    expect(redactSecrets("/ws?%61%70%69%5f%6b%65%79=s3cret&x=%ZZ")).toBe("/ws?%61%70%69%5f%6b%65%79=[redacted]&x=%ZZ");
    expect(redactSecrets("/ws?api_key=one&api_key=two")).toBe("/ws?api_key=[redacted]&api_key=[redacted]");
  });
});
