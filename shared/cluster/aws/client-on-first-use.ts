/**
 * An AWS SDK client that one function alone calls, built on its first call: its module is
 * loaded then (with code splitting, a chunk of its own, parsed only if that call comes), the
 * client made once, and both kept for the container's later calls.
 */
export function clientOnFirstUse<Sdk, Client>(
  load: () => Promise<Sdk>,
  make: (sdk: Sdk) => Client,
): () => Promise<{ sdk: Sdk; client: Client }> {
  let loaded: Promise<{ sdk: Sdk; client: Client }> | undefined;
  return () => (loaded ??= load().then((sdk) => ({ sdk, client: make(sdk) })));
}
