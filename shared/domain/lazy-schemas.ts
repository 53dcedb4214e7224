/**
 * Schemas by name, each built the first time it is read, then kept: a Lambda's init builds
 * none of them, a Task builds the few it parses (zod schema construction is most of what a
 * Task bundle's domain costs at load). Each property has the type its builder returns, so
 * `z.infer` of one is exactly what it would be built eagerly.
 */
export function builtOnFirstUse<T extends Record<string, () => unknown>>(
  builders: T,
): { readonly [K in keyof T]: ReturnType<T[K]> } {
  const built = new Map<string, unknown>();
  const schemas = {};
  for (const [name, build] of Object.entries(builders))
    Object.defineProperty(schemas, name, {
      enumerable: true,
      get: () => {
        if (!built.has(name)) built.set(name, build());
        return built.get(name);
      },
    });
  return schemas as { readonly [K in keyof T]: ReturnType<T[K]> };
}
