-- CreateTable
CREATE TABLE "job_counts" (
    "status" TEXT NOT NULL,
    "shard" INTEGER NOT NULL,
    "n" BIGINT NOT NULL,

    PRIMARY KEY ("status", "shard")
);

-- Hand-written: the counts, then the triggers that keep them. This migration runs in one
-- transaction holding SQLite's write lock, so no job changes between the count and the triggers.
INSERT INTO "job_counts" ("status", "shard", "n")
SELECT s.column1, 0, (SELECT count(*) FROM "jobs" WHERE "jobs"."status" = s.column1)
FROM (VALUES ('PENDING'), ('RUNNING'), ('DONE'), ('FAILED'), ('CANCELLED')) AS s;

CREATE TRIGGER "jobs_count_insert" AFTER INSERT ON "jobs" BEGIN
  UPDATE "job_counts" SET "n" = "n" + 1 WHERE "status" = NEW."status" AND "shard" = 0;
END;

CREATE TRIGGER "jobs_count_update" AFTER UPDATE OF "status" ON "jobs" WHEN OLD."status" IS NOT NEW."status" BEGIN
  UPDATE "job_counts" SET "n" = "n" - 1 WHERE "status" = OLD."status" AND "shard" = 0;
  UPDATE "job_counts" SET "n" = "n" + 1 WHERE "status" = NEW."status" AND "shard" = 0;
END;

CREATE TRIGGER "jobs_count_delete" AFTER DELETE ON "jobs" BEGIN
  UPDATE "job_counts" SET "n" = "n" - 1 WHERE "status" = OLD."status" AND "shard" = 0;
END;
