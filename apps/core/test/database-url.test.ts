import { dialectOf, postgresConnection, postgresSchema } from "../src/store/database";

describe("DATABASE_URL", () => {
  test("the scheme alone picks the dialect", () => {
    expect(dialectOf("file:./data/jobs.db")).toBe("sqlite");
    expect(dialectOf("postgresql://u@h:5432/db")).toBe("postgresql");
    expect(dialectOf("postgres://u@h:5432/db")).toBe("postgresql");
  });

  test("Prisma's ?schema= becomes the search_path of every pg session and is not sent to the server as a parameter", () => {
    const c = postgresConnection("postgresql://u:p@h:5432/db?schema=Tenant_1&sslmode=disable");
    expect(postgresSchema("postgresql://u@h/db")).toBe("public");
    expect(c.options).toBe('-c search_path="Tenant_1"');
    expect(new URL(c.connectionString).searchParams.has("schema")).toBe(false);
    expect(new URL(c.connectionString).searchParams.get("sslmode")).toBe("disable");
    expect(c.max).toBeUndefined();
  });

  test("options already in the URL are kept, and ?connection_limit= sizes the pool", () => {
    const c = postgresConnection("postgresql://h/db?options=-c%20statement_timeout%3D5000&connection_limit=4");
    expect(c.options).toBe('-c statement_timeout=5000 -c search_path="public"');
    expect(c.max).toBe(4);
    expect(new URL(c.connectionString).search).toBe("");
  });

  test("a schema name that would need escaping, or a bad connection_limit, stops start-up with a message naming it", () => {
    expect(() => postgresConnection("postgresql://h/db?schema=a%22b")).toThrow(/schema "a\\"b" must be/);
    expect(() => postgresConnection("postgresql://h/db?connection_limit=0")).toThrow(/connection_limit must be a positive whole number/);
  });
});
