/**
 * The worker's network card backends (src/api/protocol.ts NetConfig → src/devices/net/):
 * a BroadcastChannel of the given name (HTML Living Standard, "Broadcasting to other browsing
 * contexts"; it works in dedicated workers, so every VM of the origin on that name, in this
 * page's workers or in other tabs, shares one Ethernet segment), a WebSocket relay (one binary
 * message per frame, src/devices/net/relay.ts), or nothing ('none').
 *
 * A WebSocket must connect before create() returns: a relay that cannot be reached is a
 * readable error, as `--net ws://` is in the CLI.
 *
 * Not supported: reconnecting a WebSocket that closes later (frames are dropped and counted by
 * the backend); more than one card.
 */
import type { NetConfig } from '../api/protocol.ts';
import { NullNet, parseMac, type NetBackend } from '../devices/net/backend.ts';
import { BroadcastChannelNet } from '../devices/net/broadcast-channel.ts';
import { BrowserWebSocketNet } from '../devices/net/websocket-browser.ts';

/** A BroadcastChannel name: printable, at most this long (a typo guard, not a platform limit). */
const MAX_CHANNEL_NAME = 200;

export interface OpenedNet {
  readonly backend: NetBackend;
  /** "broadcast:NAME", the URL, or "none". */
  readonly name: string;
}

/** Checks a config that crossed the protocol (it may come from any page script). */
export function describeNet(config: NetConfig): string {
  switch (config.kind) {
    case 'broadcast':
      if (typeof config.channel !== 'string' || config.channel === '' || config.channel.length > MAX_CHANNEL_NAME) {
        throw new Error(`a broadcast network needs a channel name of 1 to ${MAX_CHANNEL_NAME} characters`);
      }
      return `broadcast:${config.channel}`;
    case 'websocket': {
      let url: URL;
      try {
        url = new URL(config.url);
      } catch {
        throw new Error(`the network's WebSocket address is not a URL: ${String(config.url)}`);
      }
      if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`the network's WebSocket address must start with ws:// or wss:// (got ${config.url})`);
      return url.href;
    }
    case 'none':
      return 'none';
    default:
      throw new Error(`unknown network kind: ${String((config as { kind?: unknown }).kind)}`);
  }
}

/** Parses the card's MAC ("52:54:00:12:34:56"); undefined gives a random one. */
export function macFromConfig(mac: string | undefined): Uint8Array | undefined {
  if (mac === undefined) return undefined;
  const bytes = parseMac(mac);
  if (!bytes) throw new Error(`not a MAC address: ${mac} (six hex bytes, like 52:54:00:12:34:56)`);
  if ((bytes[0]! & 1) !== 0) throw new Error(`${mac} is a group (multicast) address: a card needs a unicast MAC`);
  return bytes;
}

/** Opens the backend; a WebSocket is connected (or the promise rejects) before it resolves. */
export async function openNet(config: NetConfig, signal?: AbortSignal): Promise<OpenedNet> {
  const name = describeNet(config);
  if (config.kind === 'none') return { backend: new NullNet(), name };
  if (config.kind === 'broadcast') {
    if (typeof BroadcastChannel === 'undefined') throw new Error('this runtime has no BroadcastChannel');
    return { backend: new BroadcastChannelNet(config.channel), name };
  }
  if (typeof WebSocket === 'undefined') throw new Error('this runtime has no WebSocket');
  const ws = new BrowserWebSocketNet(name);
  const aborted = new Promise<never>((_, reject) => {
    if (signal?.aborted) reject(new Error('aborted'));
    signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
  aborted.catch(() => {}); // an abort after the socket connected is nobody's error
  try {
    await Promise.race([ws.ready, aborted]);
  } catch (e) {
    ws.close();
    throw new Error(`cannot connect the network to ${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { backend: ws, name };
}
