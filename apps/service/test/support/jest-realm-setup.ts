/**
 * jest runs each test file in a vm context with its own `Object`, while messages from worker
 * threads are built in Node's main realm. Piscina recognises a new thread's "ready" message with
 * `message instanceof Object`, which is false across realms: under jest a thread that replaces a
 * terminated or crashed one would never be used. Outside jest there is one realm and no problem.
 * Here `instanceof Object` is made to mean what it means there, "is an object", in every realm.
 */
Object.defineProperty(Object, Symbol.hasInstance, {
  value: (value: unknown) => (typeof value === "object" && value !== null) || typeof value === "function",
});
