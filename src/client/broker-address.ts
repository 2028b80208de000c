/**
 * Broker addresses as users write them: a URL (`http://127.0.0.1:8080`, `https://sluice.example/base`) or, as
 * kcat and rpk take them, `host:port`, `[::1]:port` or a bare host (port 8080), which mean plain http. A list
 * is comma-separated (`a:8080,b:8080`, for cluster mode); each entry is checked on its own and a bad one is
 * named. Nothing here touches the network.
 */
import { invalidOption } from './errors.js';

export const DEFAULT_BROKER_PORT = 8080;

const HOST_PORT = /^(?:\[(?<ipv6>[0-9a-fA-F:.]+)\]|(?<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?))(?::(?<port>\d{1,5}))?$/;

/** One broker address as a URL with an http or https scheme; `name` is how the user gave it (a flag, an option). */
export function parseBrokerAddress(text: string, name = 'broker'): URL {
  const address = text.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw invalidOption(`${name} must be host:port or a URL such as http://127.0.0.1:8080, not ${JSON.stringify(text)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidOption(`${name} must be an http or https URL or host:port, not ${text}`);
    return url;
  }
  const match = HOST_PORT.exec(address);
  const port = match?.groups?.port === undefined ? DEFAULT_BROKER_PORT : Number(match.groups.port);
  if (!match || port < 1 || port > 65_535) {
    throw invalidOption(`${name} must be host:port (127.0.0.1:8080, [::1]:8080) or a URL such as http://127.0.0.1:8080, not ${JSON.stringify(text)}`);
  }
  const host = match.groups!.ipv6 !== undefined ? `[${match.groups!.ipv6}]` : match.groups!.host!;
  return new URL(`http://${host}:${port}`);
}

/** A comma-separated list of broker addresses, each as parseBrokerAddress takes it; at least one. */
export function parseBrokerList(text: string, name = 'broker'): URL[] {
  const entries = text.split(',').map((s) => s.trim());
  if (entries.some((s) => s === '')) throw invalidOption(`${name} must be one or more comma-separated brokers (host:port or URL), not ${JSON.stringify(text)}`);
  return entries.map((entry) => parseBrokerAddress(entry, name));
}

/** A URL's text without the trailing slash `new URL` adds to a bare origin (http://h:1/ → http://h:1). */
export function brokerUrlText(url: URL): string {
  return url.pathname === '/' && url.search === '' ? url.origin : url.href;
}
