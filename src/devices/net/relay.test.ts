import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startRelay, type Relay } from './relay.ts';
import { NodeWebSocketNet } from './websocket-node.ts';

let relay: Relay | undefined;
const clients: NodeWebSocketNet[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await relay?.close();
  relay = undefined;
});

async function client(url: string): Promise<NodeWebSocketNet> {
  const c = new NodeWebSocketNet(url);
  clients.push(c);
  await c.ready;
  return c;
}

function next(c: NodeWebSocketNet): Promise<Uint8Array> {
  return new Promise((resolve) => c.onReceive(resolve));
}

const frame = (n: number, tag: number) => new Uint8Array(n).map((_, i) => (i + tag) & 0xff);

describe('WebSocket relay and the Node WebSocket client', () => {
  it('forwards each frame to every other client, and sees and injects frames', async () => {
    relay = await startRelay();
    expect(relay.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    const [a, b, c] = [await client(relay.url), await client(relay.url), await client(relay.url)];
    const seen: Uint8Array[] = [];
    relay.onFrame = (f) => void seen.push(f);
    let toA = 0;
    a.onReceive(() => toA++);
    const atB = next(b);
    const atC = next(c);
    a.send(frame(1514, 1));
    expect(await atB).toEqual(frame(1514, 1));
    expect(await atC).toEqual(frame(1514, 1));
    expect(seen).toEqual([frame(1514, 1)]);
    expect(toA).toBe(0); // its own frame never came back
    const injected = next(a);
    relay.inject(frame(60, 2));
    expect(await injected).toEqual(frame(60, 2));
    expect(relay.clients).toBe(3);
  });

  it('keeps frame boundaries for a burst of small and large frames', async () => {
    relay = await startRelay();
    const [a, b] = [await client(relay.url), await client(relay.url)];
    const got: Uint8Array[] = [];
    const all = new Promise<void>((resolve) =>
      b.onReceive((f) => {
        got.push(f);
        if (got.length === 200) resolve();
      }),
    );
    const sent = Array.from({ length: 200 }, (_, i) => frame(14 + ((i * 97) % 1500), i));
    for (const f of sent) a.send(f);
    await all;
    expect(got).toEqual(sent);
  });

  it('a client that cannot connect rejects `ready` and drops frames; the relay refuses plain HTTP', async () => {
    relay = await startRelay();
    const port = new URL(relay.url).port;
    await relay.close();
    relay = undefined;
    const c = new NodeWebSocketNet(`ws://127.0.0.1:${port}/`);
    clients.push(c);
    await expect(c.ready).rejects.toThrow();
    c.send(frame(60, 0));
    expect(c.dropped).toBe(1);
    expect(() => new NodeWebSocketNet('http://example.com/')).toThrow(/only ws:/);
    relay = await startRelay();
    const status = await new Promise<number>((resolve) => request(relay!.url.replace('ws:', 'http:'), (res) => (res.resume(), resolve(res.statusCode!))).end());
    expect(status).toBe(426);
  });
});
