/**
 * The caller's two credentials, as the API wants them: the function key and a bearer token. Kept in
 * sessionStorage only (gone with the tab, never written to disk by localStorage, never in a URL where
 * history, logs and Referer headers would keep it).
 */
export interface Credentials {
  key: string;
  token: string;
}

const KEY = 'llm-console.key';
const TOKEN = 'llm-console.token';

export function loadCredentials(): Credentials {
  return { key: sessionStorage.getItem(KEY) ?? '', token: sessionStorage.getItem(TOKEN) ?? '' };
}

export function saveCredentials(c: Credentials): void {
  sessionStorage.setItem(KEY, c.key);
  sessionStorage.setItem(TOKEN, c.token);
}

export function clearCredentials(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(TOKEN);
}
