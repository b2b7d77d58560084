// WsTap: observes a WebSocket remote-command connection (kubectl ≥1.30 exec/attach over GET +
// Upgrade, subprotocol v5/v4.channel.k8s.io, or the base64 variants other clients use).
// The channel byte starts a message, not a frame: fragments are stitched by ChannelReader.
import {
  Channel,
  failureStatus,
  protocolInfo,
} from '../protocol/channel';
import { encodeBase64ChannelMessage, encodeChannelMessage, encodeClose, encodeFrame } from '../protocol/ws/encoder';
import { Opcode, type WsFrame } from '../protocol/ws/frame';
import { ChannelReader, type ChannelEvent } from '../protocol/ws/message';
import { WsFrameParser } from '../protocol/ws/parser';
import type { TapOptions } from './events';
import { StreamTap, type ServerUnit } from './tap';

export class WsTap extends StreamTap {
  private readonly clientFrames = new WsFrameParser({ direction: 'client-to-server' });
  private readonly serverFrames = new WsFrameParser({ direction: 'server-to-client' });
  private readonly clientMessages: ChannelReader;
  private readonly serverMessages: ChannelReader;
  private readonly base64: boolean;
  /** A fragmented server message is open: an injected message must first close it. */
  private serverMessageOpen = false;

  constructor(options: TapOptions) {
    super(options);
    const info = protocolInfo(options.protocol);
    this.base64 = info.base64;
    const encoding = info.base64 ? 'base64' : 'binary';
    this.clientMessages = new ChannelReader({ encoding });
    this.serverMessages = new ChannelReader({ encoding });
  }

  protected parseClient(chunk: Uint8Array): void {
    for (const frame of this.clientFrames.push(chunk)) {
      for (const event of this.clientMessages.push(frame)) this.clientEvent(event);
    }
  }

  private clientEvent(event: ChannelEvent): void {
    switch (event.type) {
      case 'data':
        if (event.channel === Channel.RESIZE) this.resizeData(event.data);
        else if (event.channel === Channel.STDIN && this.recordStdin && event.data.byteLength > 0) this.sink.input(event.data);
        break;
      case 'text':
        if (event.first) this.sink.warning({ code: 'WS_TEXT_FRAME', message: 'kubectl sent a text message on a binary channel protocol' });
        break;
      case 'binary':
        if (event.first) this.sink.warning({ code: 'WS_BINARY_FRAME', message: 'kubectl sent a binary message on a base64 channel protocol' });
        break;
      case 'reserved':
        this.sink.warning({ code: 'WS_RESERVED_OPCODE', message: `kubectl sent a frame with reserved opcode ${event.opcode}` });
        break;
      default:
        break;
    }
  }

  protected parseServer(chunk: Uint8Array): ServerUnit[] {
    const frames = this.serverFrames.push(chunk);
    const units: ServerUnit[] = new Array(frames.length);
    for (let i = 0; i < frames.length; i++) units[i] = this.unitFor(frames[i]);
    return units;
  }

  protected serverBuffered(): number {
    return this.serverFrames.buffered;
  }

  private unitFor(frame: WsFrame): ServerUnit {
    // Whether kubectl is inside a fragmented message changes when a frame reaches it, not when it
    // is parsed: frames held by the size gate or refused by the sink are never forwarded.
    let messageOpenAfter: boolean | undefined;
    if (frame.opcode === Opcode.TEXT || frame.opcode === Opcode.BINARY) messageOpenAfter = !frame.fin;
    else if (frame.opcode === Opcode.CONTINUATION && frame.fin) messageOpenAfter = false;
    const events = this.serverMessages.push(frame);
    let carriesOutput = false;
    for (const event of events) {
      if (event.type === 'data' && (event.channel === Channel.STDOUT || event.channel === Channel.STDERR) && event.data.byteLength > 0) {
        carriesOutput = true;
      }
    }
    return {
      raw: frame.raw,
      carriesOutput,
      record: () => {
        if (!this.recordServerEvents(events)) return false;
        if (messageOpenAfter !== undefined) this.serverMessageOpen = messageOpenAfter;
        return true;
      },
    };
  }

  private recordServerEvents(events: ChannelEvent[]): boolean {
    for (const event of events) {
      switch (event.type) {
        case 'data':
          if (event.channel === Channel.STDOUT || event.channel === Channel.STDERR) {
            if (event.data.byteLength > 0 && !this.sink.output(event.channel === Channel.STDOUT ? 'stdout' : 'stderr', event.data)) return false;
          } else if (event.channel === Channel.ERROR) {
            this.errorStream.collect(event.data);
            if (event.last) this.errorStream.end();
          }
          break;
        case 'control':
          if (event.opcode === Opcode.CLOSE) this.errorStream.end();
          break;
        case 'text':
          if (event.first) this.sink.warning({ code: 'WS_TEXT_FRAME', message: 'the API server sent a text message on a binary channel protocol' });
          break;
        case 'binary':
          if (event.first) this.sink.warning({ code: 'WS_BINARY_FRAME', message: 'the API server sent a binary message on a base64 channel protocol' });
          break;
        case 'reserved':
          this.sink.warning({ code: 'WS_RESERVED_OPCODE', message: `the API server sent a frame with reserved opcode ${event.opcode}` });
          break;
        case 'empty-message':
          this.sink.warning({ code: 'WS_EMPTY_MESSAGE', message: 'the API server sent an empty message (no channel byte)' });
          break;
      }
    }
    return true;
  }

  protected terminationFrames(message: string): Uint8Array[] {
    const frames: Uint8Array[] = [];
    // Close a fragmented message the client is in the middle of, so ours start on a boundary.
    if (this.serverMessageOpen) frames.push(encodeFrame({ fin: true, opcode: Opcode.CONTINUATION, payload: new Uint8Array(0) }));
    const encode = (channel: number, text: string) => {
      const data = new TextEncoder().encode(text);
      return this.base64 ? encodeBase64ChannelMessage(channel, data) : encodeChannelMessage(channel, data);
    };
    frames.push(encode(this.tty ? Channel.STDOUT : Channel.STDERR, this.tty ? `\r\n${message}\r\n` : `${message}\n`));
    frames.push(encode(Channel.ERROR, this.protocolVersion >= 4 ? JSON.stringify(failureStatus(message)) : message));
    frames.push(encodeClose(1000));
    return frames;
  }
}
