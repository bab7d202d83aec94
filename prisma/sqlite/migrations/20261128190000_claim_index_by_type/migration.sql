-- The claim reads one index range per job type (sql.sqlite.ts, claimBatch).
-- DropIndex
DROP INDEX "jobs_claim_idx";

-- CreateIndex
CREATE INDEX "jobs_claim_idx" ON "jobs"("status", "type", "priority" DESC, "run_at");
