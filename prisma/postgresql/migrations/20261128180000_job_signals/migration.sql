-- CreateTable
CREATE TABLE "job_signals" (
    "seq" SERIAL NOT NULL,
    "message" TEXT NOT NULL,
    "created_at" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "job_signals_pkey" PRIMARY KEY ("seq")
);

