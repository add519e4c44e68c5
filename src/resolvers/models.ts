import type { RegionConfig } from '../config.js';
import type { RegionImage } from '../providers/types.js';

/** The GraphQL `Image`: a provider record plus the region it lives in. */
export type ImageModel = RegionImage;

export type RegionModel = RegionConfig;

export interface OrganizationModel {
  id: string;
}

export interface PageInfoModel {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface ImageConnectionModel {
  edges: { cursor: string; node: ImageModel }[];
  pageInfo: PageInfoModel;
  /** Counted only when the field is selected: it is a second provider query. */
  totalCount: () => Promise<number | null>;
}
