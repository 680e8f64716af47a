import { useEffect, useRef } from 'preact/hooks';

/**
 * Calls `load` now and then every `intervalMs` after the previous call finished (never two at once), until
 * the component goes away or `deps` change. The page keeps no data of its own: it re-reads the API.
 */
export function usePoll(load: () => Promise<void>, intervalMs: number, deps: unknown[]): void {
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      await latest.current().catch(() => undefined);
      if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
}
