-- CreateTable
CREATE TABLE "job_counts" (
    "status" TEXT NOT NULL,
    "shard" INTEGER NOT NULL,
    "n" BIGINT NOT NULL,

    CONSTRAINT "job_counts_pkey" PRIMARY KEY ("status","shard")
);

-- Hand-written: the counts, then the triggers that keep them. Statement-level triggers with
-- transition tables: one upsert per statement and status, whatever the number of rows (a claim
-- or a settle of 64 jobs adds -64 to one status and +64 to another). Each connection writes its
-- own shard, so two workers' commits seldom wait on one row; statuses are upserted in name
-- order, so two statements never lock the same two rows in opposite orders.
-- The lock keeps jobs unchanged between the count and the triggers (processes of the previous
-- version may be running during a rolling upgrade).
LOCK TABLE "jobs" IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO "job_counts" ("status", "shard", "n")
SELECT "status", 0, count(*) FROM "jobs" GROUP BY "status";

CREATE FUNCTION "jobs_count_insert"() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO "job_counts" ("status", "shard", "n")
  SELECT "status", pg_backend_pid() % 16, count(*) FROM new_rows GROUP BY "status" ORDER BY "status"
  ON CONFLICT ("status", "shard") DO UPDATE SET "n" = "job_counts"."n" + excluded."n";
  RETURN NULL;
END $$;

CREATE FUNCTION "jobs_count_update"() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO "job_counts" ("status", "shard", "n")
  SELECT "status", pg_backend_pid() % 16, sum("delta")
  FROM (SELECT "status", -1 AS "delta" FROM old_rows UNION ALL SELECT "status", 1 FROM new_rows) AS d
  GROUP BY "status" HAVING sum("delta") <> 0 ORDER BY "status"
  ON CONFLICT ("status", "shard") DO UPDATE SET "n" = "job_counts"."n" + excluded."n";
  RETURN NULL;
END $$;

CREATE FUNCTION "jobs_count_delete"() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO "job_counts" ("status", "shard", "n")
  SELECT "status", pg_backend_pid() % 16, -count(*) FROM old_rows GROUP BY "status" ORDER BY "status"
  ON CONFLICT ("status", "shard") DO UPDATE SET "n" = "job_counts"."n" + excluded."n";
  RETURN NULL;
END $$;

CREATE TRIGGER "jobs_count_insert" AFTER INSERT ON "jobs"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "jobs_count_insert"();
CREATE TRIGGER "jobs_count_update" AFTER UPDATE ON "jobs"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "jobs_count_update"();
CREATE TRIGGER "jobs_count_delete" AFTER DELETE ON "jobs"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "jobs_count_delete"();
