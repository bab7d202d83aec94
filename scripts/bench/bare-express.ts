import express from "express";

/**
 * The ceiling: Express 5 that only parses the JSON body and answers 202, no database, no
 * validation, no logging. The service's submit figure is read against this one, measured
 * under the same load in the same run.
 */
const app = express();
app.disable("x-powered-by");
app.use(express.json());
app.get("/healthz", (_req, res) => {
  res.json({ status: "ok" });
});
app.post("/jobs", (req, res) => {
  res.status(202).json({ accepted: typeof req.body === "object" });
});
const server = app.listen(Number(process.env.PORT), "127.0.0.1");
server.keepAliveTimeout = 65_000;
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
