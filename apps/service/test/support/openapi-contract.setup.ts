import { checkFetchedAnswers } from "./contract-capture";
import { closeContracts, takeContractViolations } from "./openapi-contract";

/**
 * jest setupFilesAfterEnv of both projects: each test fails if an answer it provoked breaks the
 * OpenAPI document of the service that gave it (openapi-contract.ts).
 */
checkFetchedAnswers();

afterEach(async () => {
  const found = await takeContractViolations();
  if (found.length > 0) throw new Error(`answers that break the OpenAPI document:\n${found.join("\n")}`);
});

afterAll(closeContracts);
