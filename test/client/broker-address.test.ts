/** Broker addresses as users type them: URLs, host:port (kcat, rpk), IPv6, lists for cluster mode. */
import { describe, expect, it } from 'vitest';
import { brokerUrlText, parseBrokerAddress, parseBrokerList } from '../../src/client/broker-address.js';
import { parseBrokerUrl } from '../../src/client/http.js';

const text = (s: string) => brokerUrlText(parseBrokerAddress(s));

describe('broker addresses', () => {
  it('take URLs as they are and host:port as plain http', () => {
    expect(text('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(text('https://sluice.example/base')).toBe('https://sluice.example/base');
    expect(text('127.0.0.1:18080')).toBe('http://127.0.0.1:18080');
    expect(text('broker-1.internal:9000')).toBe('http://broker-1.internal:9000');
    expect(text('localhost')).toBe('http://localhost:8080');
    expect(text('[::1]:8081')).toBe('http://[::1]:8081');
    expect(text(' 10.0.0.7:80 ')).toBe('http://10.0.0.7'); // 80 is http's own port
    expect(brokerUrlText(parseBrokerUrl('127.0.0.1:1234'))).toBe('http://127.0.0.1:1234'); // the client's own option too
  });

  it('refuse what is not an address, naming the option and the text', () => {
    for (const bad of ['not a url', 'host:0', 'host:65536', 'host:port', 'ftp://h:1', '::1:8080', '-h:1', 'http://']) {
      expect(() => parseBrokerAddress(bad, '--broker'), bad).toThrow(/--broker must be/);
    }
    expect(() => parseBrokerAddress('ftp://h:1', '--broker')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });

  it('split comma-separated lists and name a bad entry', () => {
    expect(parseBrokerList('a:1, b:2,http://c:3').map(brokerUrlText)).toEqual(['http://a:1', 'http://b:2', 'http://c:3']);
    expect(() => parseBrokerList('a:1,,b:2', '--broker')).toThrow(/one or more comma-separated brokers/);
    expect(() => parseBrokerList('a:1,b:x', '--broker')).toThrow(/not "b:x"/);
  });
});
