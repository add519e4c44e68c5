import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './enums.js';
import './inputs.js';
import './node.js';
import './image-metadata.js';
import './image-use.js';
import './image.js';
import './image-connection.js';
import './region.js';
import './organization.js';
import './viewer.js';
import './errors.js';
import './import-image.js';
import './image-changed.js';
import './delete-image.js';
import './image-use-mutations.js';

export const schema = lexicographicSortSchema(builder.toSchema());
