import { createServer, type Server, type Socket } from 'node:net';
import dimse, { type association as dimseAssociation, type requests as dimseRequests, type responses as dimseResponses } from 'dcmjs-dimse';
import type { LogFields } from './binding/index.js';

const { Scp, Dataset, constants, responses } = dimse;
const { PresentationContextResult, RejectReason, RejectResult, RejectSource, SopClass, Status, TransferSyntax } = constants;
const { CEchoResponse, CFindResponse } = responses;

/** A C-FIND query as dcmjs names it: keyword → value (strings, arrays, `{ Alphabetic }` for names). */
export type FindQuery = Record<string, unknown>;

/** Who asks: the association's AE titles and the peer's address (for logs; never patient data). */
export interface FindPeer {
  callingAet: string;
  calledAet: string;
  address: string;
}

/** An error whose DIMSE status the SCU hears (e.g. 0xA900: the identifier does not match the SOP class). */
export class FindStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'FindStatusError';
  }
}

export interface FindScpOptions {
  host: string;
  port: number;
  /** The called AET this SCP answers to; an association calling another AET is refused. */
  aet: string;
  /** The abstract syntaxes (C-FIND SOP classes) accepted; C-ECHO is always accepted. */
  sopClasses: readonly string[];
  /** Answers one query: the datasets to return (each a pending response). A throw answers a failure status. */
  find(query: FindQuery, sopClass: string, peer: FindPeer): Promise<FindQuery[]>;
  /** Told of each refused association and failed query: a short message and its values as log fields, free of patient data. */
  onProblem?(message: string, fields: LogFields): void;
}

export interface RunningFindScp {
  port: number;
  close(): Promise<void>;
}

const uncompressed = new Set<string>([TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian]);

/**
 * A C-FIND SCP on its own port, over dcmjs-dimse's `Scp`. What dcmjs-dimse does not do, done here:
 * - its `Server` listens on every interface with no host; this binds `host` with `node:net`;
 * - its README's association example accepts then overwrites the result with each later transfer
 *   syntax; here the first uncompressed one is accepted;
 * - the called AET is checked (CalledAeNotRecognized otherwise).
 */
export async function startFindScp(options: FindScpOptions): Promise<RunningFindScp> {
  const accepted = new Set<string>([SopClass.Verification, ...options.sopClasses]);
  const problem = (message: string, fields: LogFields) => options.onProblem?.(message, fields);

  class FindScp extends Scp {
    private peer: FindPeer = { callingAet: '', calledAet: '', address: '' };

    constructor(socket: Socket, opts: object) {
      super(socket, opts);
      this.peer.address = socket.remoteAddress ?? '';
    }

    override associationRequested(association: dimseAssociation.Association): void {
      this.peer = {
        ...this.peer,
        callingAet: String(association.getCallingAeTitle()).trim(),
        calledAet: String(association.getCalledAeTitle()).trim(),
      };
      if (this.peer.calledAet !== options.aet) {
        problem('refused an association', {
          callingAet: this.peer.callingAet,
          address: this.peer.address,
          calledAet: this.peer.calledAet,
          aet: options.aet,
        });
        this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized);
        return;
      }
      for (const { id } of association.getPresentationContexts()) {
        const context = association.getPresentationContext(id);
        if (!accepted.has(context.getAbstractSyntaxUid())) {
          context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
          continue;
        }
        const syntax = context.getTransferSyntaxUids().find((uid) => uncompressed.has(uid));
        if (syntax) context.setResult(PresentationContextResult.Accept, syntax);
        else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      this.sendAssociationAccept();
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    override cEchoRequest(request: dimseRequests.CEchoRequest, callback: (response: dimseResponses.CEchoResponse) => void): void {
      const response = CEchoResponse.fromRequest(request);
      response.setStatus(Status.Success);
      callback(response);
    }

    override cFindRequest(request: dimseRequests.CFindRequest, callback: (responses: dimseResponses.CFindResponse[]) => void): void {
      const sopClass = String(request.getAffectedSopClassUid());
      const query = (request.getDataset()?.getElements() ?? {}) as FindQuery;
      const final = CFindResponse.fromRequest(request);
      options
        .find(query, sopClass, this.peer)
        .then((answers) => {
          const pending = answers.map((answer) => {
            const response = CFindResponse.fromRequest(request);
            response.setDataset(new Dataset(answer));
            response.setStatus(Status.Pending);
            return response;
          });
          final.setStatus(Status.Success);
          callback([...pending, final]);
        })
        .catch((error: unknown) => {
          const status = error instanceof FindStatusError ? error.status : Status.ProcessingFailure;
          problem('C-FIND failed', {
            callingAet: this.peer.callingAet,
            status: `0x${status.toString(16)}`,
            error: (error as Error).message,
          });
          final.setStatus(status);
          callback([final]);
        });
    }

    override cCancelRequest(): void {}

    override abort(): void {}
  }

  const server: Server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    const scp = new FindScp(socket, {});
    scp.on('networkError', () => socket.destroy());
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => problem('server error', { error: error.message }));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A query value as text: lists joined by `\`, person names by their alphabetic form; undefined for sequences and binary. */
export function queryValueText(value: unknown): string | undefined {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) {
    const items = (value as unknown[]).map((item): unknown =>
      item && typeof item === 'object' && !Array.isArray(item) ? ((item as { Alphabetic?: unknown }).Alphabetic ?? null) : item,
    );
    if (items.some((item) => item === null || (typeof item !== 'string' && typeof item !== 'number'))) return undefined;
    return items.join('\\');
  }
  return undefined;
}
