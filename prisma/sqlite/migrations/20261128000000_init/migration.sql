-- CreateTable
CREATE TABLE "jobs" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "result" TEXT,
    "error" TEXT,
    "error_history" TEXT NOT NULL DEFAULT '[]',
    "progress" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "max_attempts" INTEGER NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 0,
    "timeout_ms" INTEGER NOT NULL,
    "run_at" REAL NOT NULL,
    "created_at" REAL NOT NULL,
    "updated_at" REAL NOT NULL,
    "started_at" REAL,
    "finished_at" REAL,
    "locked_by" TEXT,
    "lock_token" TEXT,
    "lease_expires_at" REAL,
    "cancel_requested" BOOLEAN NOT NULL DEFAULT false,
    "idempotency_key" TEXT,
    "request_hash" TEXT
);

-- CreateIndex
CREATE UNIQUE INDEX "jobs_idempotency_key_key" ON "jobs"("idempotency_key");

-- CreateIndex
CREATE INDEX "jobs_claim_idx" ON "jobs"("status", "priority" DESC, "run_at");

-- CreateIndex
CREATE INDEX "jobs_lease_idx" ON "jobs"("status", "lease_expires_at");

-- CreateIndex
CREATE INDEX "jobs_created_idx" ON "jobs"("created_at");

-- CreateIndex
CREATE INDEX "jobs_status_created_idx" ON "jobs"("status", "created_at");

-- CreateIndex
CREATE INDEX "jobs_type_created_idx" ON "jobs"("type", "created_at");

-- CreateIndex
CREATE INDEX "jobs_finished_idx" ON "jobs"("finished_at");

