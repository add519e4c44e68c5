import type { ImportProgress } from '../imports/import-progress.js';
import { builder } from './builder.js';
import { ImportPhaseEnum } from './enums.js';

export const ImportProgressType = builder.objectRef<ImportProgress>('ImportProgress').implement({
  description: 'How far a running import has come.',
  fields: (t) => ({
    phase: t.field({ type: ImportPhaseEnum, description: 'The step it is at.', resolve: (p) => p.phase }),
    bytesDone: t.field({ type: 'SafeInt', description: 'Bytes done in this step.', resolve: (p) => p.bytesDone }),
    bytesTotal: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'Bytes this step will take; null when the size is not known in advance.',
      resolve: (p) => p.bytesTotal,
    }),
  }),
});
