// A SentencePiece model file (`spiece.model`, `tokenizer.model`): the `sentencepiece.ModelProto`
// protobuf, read with a protobufjs reflection descriptor. Field numbers and defaults are those of
// google/sentencepiece `src/sentencepiece_model.proto` (proto2); fields this project does not use
// are left out and skipped when decoding. Every message is marked `edition: 'proto2'`: without
// it protobufjs applies proto3 implicit presence, so an explicit 0/false (T5's pad_id = 0) would
// read back as the proto2 default (-1/true).
import protobuf from 'protobufjs';
import { TokenizerFileError, readTokenizerFile } from './tokenizer-files.js';

/** `ModelProto.SentencePiece.Type`. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
export type PieceTypeValue = (typeof PieceType)[keyof typeof PieceType];
const PIECE_TYPES = new Set<number>(Object.values(PieceType));

/** `TrainerSpec.ModelType`. */
export const SentencePieceModelType = { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } as const;
export type SentencePieceModelTypeValue = (typeof SentencePieceModelType)[keyof typeof SentencePieceModelType];

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceTypeValue;
}

export interface SentencePieceTrainerSpec {
  modelType: SentencePieceModelTypeValue;
  vocabSize: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  splitDigits: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  unkPiece: string;
  bosPiece: string;
  eosPiece: string;
  padPiece: string;
}

export interface SentencePieceNormalizerSpec {
  name: string;
  /** Empty when the model has no charsmap (identity normalization). */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  trainer: SentencePieceTrainerSpec;
  normalizer: SentencePieceNormalizerSpec;
  /** Present only in models trained with a denormalization rule. */
  denormalizer: SentencePieceNormalizerSpec | null;
}

const normalizerFields = {
  name: { type: 'string', id: 1 },
  precompiledCharsmap: { type: 'bytes', id: 2 },
  addDummyPrefix: { type: 'bool', id: 3, options: { default: true } },
  removeExtraWhitespaces: { type: 'bool', id: 4, options: { default: true } },
  escapeWhitespaces: { type: 'bool', id: 5, options: { default: true } },
  normalizationRuleTsv: { type: 'string', id: 6 },
};

const descriptor = {
  nested: {
    sentencepiece: {
      nested: {
        TrainerSpec: {
          edition: 'proto2',
          fields: {
            modelType: { type: 'int32', id: 3, options: { default: SentencePieceModelType.UNIGRAM } },
            vocabSize: { type: 'int32', id: 4, options: { default: 8000 } },
            treatWhitespaceAsSuffix: { type: 'bool', id: 24, options: { default: false } },
            splitDigits: { type: 'bool', id: 25, options: { default: false } },
            byteFallback: { type: 'bool', id: 35, options: { default: false } },
            unkId: { type: 'int32', id: 40, options: { default: 0 } },
            bosId: { type: 'int32', id: 41, options: { default: 1 } },
            eosId: { type: 'int32', id: 42, options: { default: 2 } },
            padId: { type: 'int32', id: 43, options: { default: -1 } },
            unkPiece: { type: 'string', id: 45, options: { default: '<unk>' } },
            bosPiece: { type: 'string', id: 46, options: { default: '<s>' } },
            eosPiece: { type: 'string', id: 47, options: { default: '</s>' } },
            padPiece: { type: 'string', id: 48, options: { default: '<pad>' } },
          },
        },
        NormalizerSpec: { edition: 'proto2', fields: normalizerFields },
        ModelProto: {
          edition: 'proto2',
          fields: {
            pieces: { rule: 'repeated', type: 'SentencePiece', id: 1 },
            trainerSpec: { type: 'TrainerSpec', id: 2 },
            normalizerSpec: { type: 'NormalizerSpec', id: 3 },
            denormalizerSpec: { type: 'NormalizerSpec', id: 5 },
          },
          nested: {
            SentencePiece: {
              edition: 'proto2',
              fields: {
                piece: { type: 'string', id: 1 },
                score: { type: 'float', id: 2 },
                type: { type: 'int32', id: 3, options: { default: PieceType.NORMAL } },
              },
            },
          },
        },
      },
    },
  },
};

const ModelProto = protobuf.Root.fromJSON(descriptor).lookupType('sentencepiece.ModelProto');

const TRAINER_DEFAULTS: SentencePieceTrainerSpec = {
  modelType: SentencePieceModelType.UNIGRAM, vocabSize: 8000, byteFallback: false, treatWhitespaceAsSuffix: false,
  splitDigits: false, unkId: 0, bosId: 1, eosId: 2, padId: -1,
  unkPiece: '<unk>', bosPiece: '<s>', eosPiece: '</s>', padPiece: '<pad>',
};
const NORMALIZER_DEFAULTS: SentencePieceNormalizerSpec = {
  name: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true,
};

type Obj = Record<string, unknown>;

function normalizerSpec(o: Obj | undefined): SentencePieceNormalizerSpec {
  const n = { ...NORMALIZER_DEFAULTS, ...(o ?? {}) } as SentencePieceNormalizerSpec;
  return {
    name: n.name, precompiledCharsmap: n.precompiledCharsmap, addDummyPrefix: n.addDummyPrefix,
    removeExtraWhitespaces: n.removeExtraWhitespaces, escapeWhitespaces: n.escapeWhitespaces,
  };
}

/**
 * Decode and validate a SentencePiece model. `file` names the source in errors. Checks what
 * sentencepiece itself checks on load: non-empty pieces, no duplicates, known piece types,
 * exactly one UNKNOWN piece and it is the one `unk_id` names.
 */
export function parseSentencePieceModel(bytes: Uint8Array, file: string): SentencePieceModel {
  const expected = 'a SentencePiece model (sentencepiece.ModelProto protobuf)';
  if (bytes.length === 0) throw new TokenizerFileError(file, `empty file; expected ${expected}`);
  let o: Obj;
  try {
    o = ModelProto.toObject(ModelProto.decode(bytes), { defaults: true, arrays: true, bytes: Uint8Array, longs: Number }) as Obj;
  } catch (e) {
    throw new TokenizerFileError(file, `cannot decode (${(e as Error).message}); expected ${expected}`);
  }
  const rawPieces = o.pieces as Obj[];
  if (rawPieces.length === 0) throw new TokenizerFileError(file, `has no pieces; expected ${expected}`);
  const pieces: SentencePiece[] = [];
  const seen = new Map<string, number>();
  rawPieces.forEach((p, i) => {
    const piece = p.piece as string;
    const type = p.type as number;
    const score = p.score as number;
    if (piece === '') throw new TokenizerFileError(file, `piece ${i} is empty; ${expected} has no empty pieces`);
    if (!PIECE_TYPES.has(type)) throw new TokenizerFileError(file, `piece ${i} (${JSON.stringify(piece)}) has unknown type ${type}; expected 1..6`);
    if (!Number.isFinite(score)) throw new TokenizerFileError(file, `piece ${i} (${JSON.stringify(piece)}) has a non-finite score`);
    const prev = seen.get(piece);
    if (prev !== undefined) throw new TokenizerFileError(file, `piece ${JSON.stringify(piece)} appears twice (ids ${prev} and ${i})`);
    seen.set(piece, i);
    pieces.push({ piece, score, type: type as PieceTypeValue });
  });
  const trainer = { ...TRAINER_DEFAULTS, ...((o.trainerSpec as Obj | null) ?? {}) } as SentencePieceTrainerSpec;
  const model: SentencePieceModel = {
    pieces,
    trainer: {
      modelType: trainer.modelType, vocabSize: trainer.vocabSize, byteFallback: trainer.byteFallback,
      treatWhitespaceAsSuffix: trainer.treatWhitespaceAsSuffix, splitDigits: trainer.splitDigits,
      unkId: trainer.unkId, bosId: trainer.bosId, eosId: trainer.eosId, padId: trainer.padId,
      unkPiece: trainer.unkPiece, bosPiece: trainer.bosPiece, eosPiece: trainer.eosPiece, padPiece: trainer.padPiece,
    },
    normalizer: normalizerSpec(o.normalizerSpec as Obj | undefined),
    denormalizer: o.denormalizerSpec ? normalizerSpec(o.denormalizerSpec as Obj) : null,
  };
  const unknown = pieces.flatMap((p, i) => (p.type === PieceType.UNKNOWN ? [i] : []));
  if (unknown.length !== 1) throw new TokenizerFileError(file, `has ${unknown.length} UNKNOWN pieces; ${expected} has exactly one`);
  const unkId = model.trainer.unkId;
  if (unkId !== unknown[0]) {
    throw new TokenizerFileError(file, `trainer_spec.unk_id is ${unkId} but the UNKNOWN piece is id ${unknown[0]}`);
  }
  return model;
}

/** Read and validate a SentencePiece model file. */
export function readSentencePieceModel(file: string): SentencePieceModel {
  return parseSentencePieceModel(readTokenizerFile(file, 'a SentencePiece model (spiece.model)'), file);
}

/** What `encodeSentencePieceModel` needs; unspecified spec fields keep the proto defaults. */
export interface SentencePieceModelInput {
  pieces: SentencePiece[];
  trainer?: Partial<SentencePieceTrainerSpec>;
  normalizer?: Partial<SentencePieceNormalizerSpec>;
}

/** Serialize a model (used to write small test and demo models). */
export function encodeSentencePieceModel(m: SentencePieceModelInput): Uint8Array {
  const msg = ModelProto.fromObject({
    pieces: m.pieces.map((p) => ({ piece: p.piece, score: p.score, type: p.type })),
    trainerSpec: m.trainer ?? {},
    normalizerSpec: m.normalizer ?? {},
  });
  return ModelProto.encode(msg).finish();
}
