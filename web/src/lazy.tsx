import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { t } from './i18n';
import { showError } from './store';

/** A component whose code is fetched on first render (a chunk of its own), shown as soon as it arrives.
 *  `load` is a dynamic import; `name` the export to render. A failed fetch (a new deployment replaced the
 *  chunk, the network dropped) is reported and retried on the next render. */
export function lazyPart<P extends object>(load: () => Promise<Record<string, unknown>>, name: string): FunctionComponent<P> {
  let loaded: FunctionComponent<P> | null = null;
  let pending: Promise<void> | null = null;
  const fetchPart = () => {
    pending ??= load().then((m) => { loaded = m[name] as FunctionComponent<P>; }, (err) => { pending = null; throw err; });
    return pending;
  };
  return function Lazy(props: P) {
    const [, setReady] = useState(loaded !== null);
    useEffect(() => {
      if (!loaded) fetchPart().then(() => setReady(true), showError);
    }, []);
    const Part = loaded;
    return Part ? <Part {...props} /> : <div class="pad muted" data-testid="loading">{t('loading')}</div>;
  };
}
