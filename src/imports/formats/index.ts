/** The disk-format detector: classify a file's first bytes, accept only a raw bootable disk. */
export { detectFormat, MIN_HEAD_BYTES, PEEK_BYTES } from './detect-format.js';
export type { DetectionResult } from './detect-format.js';
export { collectHead, HeadCollector } from './head-collector.js';
export type { CollectedHead } from './head-collector.js';
export { VHD_FOOTER_BYTES, vhdFooterLength, vhdProbe } from './vhd.js';
export type { DetectedFormat, FormatProbe, ProbeFormat } from './types.js';
