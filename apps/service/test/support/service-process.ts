import { loadConfig } from "../../../core/src/config";
import { type ServiceProcess, startServiceProcess as launch } from "../../../../testing/service-process";
import { checkAnswersFetchedFrom, settingsOf } from "./contract-capture";
import { contractFor } from "./openapi-contract";

export { type ServiceProcess, stopAll, submitTo, withOutputOf } from "../../../../testing/service-process";

/** A service process (testing/service-process.ts) whose answers to this test's fetches are checked against the OpenAPI document. */
export function startServiceProcess(name: string, env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<ServiceProcess> {
  return launch(name, env, { ...options, watch: (baseUrl, childEnv) => checkAnswersFetchedFrom(baseUrl, contractFor(settingsOf(loadConfig(childEnv)))) });
}
