-- CreateTable
CREATE TABLE "job_signals" (
    "seq" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "message" TEXT NOT NULL,
    "created_at" REAL NOT NULL
);

