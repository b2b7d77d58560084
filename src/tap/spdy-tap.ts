// SpdyTap: observes a SPDY/3.1 remote-command connection (kubectl exec/attach over POST + Upgrade).
// Roles come from the client's SYN_STREAM `streamtype` headers; stdout/stderr DATA become output,
// the resize stream's JSON becomes resizes, the error stream's Status becomes the exit status.
import { failureStatus, roleFromStreamType, type StreamRole } from '../protocol/channel';
import { SpdyEncoder } from '../protocol/spdy/encoder';
import { GoawayStatus, RstStatus, type SpdyFrame } from '../protocol/spdy/frame';
import { SpdyParser } from '../protocol/spdy/parser';
import { StreamTap, type ServerUnit } from './tap';

export class SpdyTap extends StreamTap {
  private readonly clientParser = new SpdyParser();
  private readonly serverParser = new SpdyParser();
  private readonly roles = new Map<number, StreamRole>();
  /** Streams the server has answered (SYN_REPLY): only those may carry injected data. */
  private readonly replied = new Set<number>();
  private highestClientStream = 0;

  protected parseClient(chunk: Uint8Array): void {
    for (const frame of this.clientParser.push(chunk)) {
      switch (frame.type) {
        case 'syn_stream': {
          this.highestClientStream = Math.max(this.highestClientStream, frame.streamId);
          const role = roleFromStreamType(frame.headers.get('streamtype')?.[0]);
          // Stream 0 is not a stream (SPDY/3 §2.3.2): a role on it would make the termination
          // frames address stream 0, which the encoder refuses by throwing.
          if (role && frame.streamId !== 0) this.roles.set(frame.streamId, role);
          break;
        }
        case 'data': {
          const role = this.roles.get(frame.streamId);
          if (role === 'resize') this.resizeData(frame.payload);
          else if (role === 'stdin' && this.recordStdin && frame.payload.byteLength > 0) this.sink.input(frame.payload);
          break;
        }
        case 'unknown_control':
          this.sink.warning({ code: 'SPDY_UNKNOWN_CONTROL', message: `kubectl sent unknown SPDY control frame type ${frame.controlType}` });
          break;
        default:
          break;
      }
    }
  }

  protected parseServer(chunk: Uint8Array): ServerUnit[] {
    const frames = this.serverParser.push(chunk);
    const units: ServerUnit[] = new Array(frames.length);
    for (let i = 0; i < frames.length; i++) units[i] = this.unitFor(frames[i]);
    return units;
  }

  protected serverBuffered(): number {
    return this.serverParser.buffered;
  }

  private unitFor(frame: SpdyFrame): ServerUnit {
    if (frame.type === 'data') {
      const role = this.roles.get(frame.streamId);
      if ((role === 'stdout' || role === 'stderr') && frame.payload.byteLength > 0) {
        const payload = frame.payload;
        return { raw: frame.raw, carriesOutput: true, record: () => this.sink.output(role, payload) };
      }
      if (role === 'error') {
        const payload = frame.payload;
        const fin = frame.fin;
        return {
          raw: frame.raw,
          carriesOutput: false,
          record: () => {
            this.errorStream.collect(payload);
            if (fin) this.errorStream.end();
            return true;
          },
        };
      }
      return passive(frame.raw);
    }
    switch (frame.type) {
      case 'syn_reply': {
        const id = frame.streamId;
        return { raw: frame.raw, carriesOutput: false, record: () => (this.replied.add(id), true) };
      }
      case 'rst_stream': {
        const id = frame.streamId;
        return {
          raw: frame.raw,
          carriesOutput: false,
          record: () => {
            if (this.roles.get(id) === 'error') this.errorStream.end();
            return true;
          },
        };
      }
      case 'goaway':
        return { raw: frame.raw, carriesOutput: false, record: () => (this.errorStream.end(), true) };
      case 'unknown_control': {
        const type = frame.controlType;
        return {
          raw: frame.raw,
          carriesOutput: false,
          record: () => {
            this.sink.warning({ code: 'SPDY_UNKNOWN_CONTROL', message: `the API server sent unknown SPDY control frame type ${type}` });
            return true;
          },
        };
      }
      default:
        return passive(frame.raw);
    }
  }

  /** Reports the exit once the error stream has said something or has ended; a cut session has none. */
  protected terminationFrames(message: string): Uint8Array[] {
    const encoder = new SpdyEncoder();
    const frames: Uint8Array[] = [];
    const streamFor = (role: StreamRole) => [...this.roles].find(([id, r]) => r === role && this.replied.has(id))?.[0];
    const outputStream = this.tty ? streamFor('stdout') : (streamFor('stderr') ?? streamFor('stdout'));
    if (outputStream !== undefined) {
      const line = this.tty ? `\r\n${message}\r\n` : `${message}\n`;
      frames.push(encoder.data(outputStream, new TextEncoder().encode(line)));
    }
    const errorStream = streamFor('error');
    if (errorStream !== undefined && this.protocolVersion >= 4) {
      frames.push(encoder.data(errorStream, new TextEncoder().encode(JSON.stringify(failureStatus(message)))));
    }
    // Ends like a kubelet: every stream reset, GOAWAY last (spdystream stops reading at GOAWAY).
    for (const id of this.roles.keys()) frames.push(encoder.rstStream(id, RstStatus.CANCEL));
    frames.push(encoder.goaway(this.highestClientStream, GoawayStatus.OK));
    return frames;
  }
}

function passive(raw: Uint8Array): ServerUnit {
  return { raw, carriesOutput: false, record: alwaysTrue };
}

function alwaysTrue(): boolean {
  return true;
}
