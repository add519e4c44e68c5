import type { RegionImage } from '../../region-image.js';

/** The GraphQL `Organization`: only its id is known (from credentials and image ownership). */
export interface OrganizationModel {
  id: string;
}

export interface PageInfoModel {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

/** A page of images as the schema's `ImageConnection` resolves it. */
export interface ImageConnectionModel {
  edges: { cursor: string; node: RegionImage }[];
  pageInfo: PageInfoModel;
  /** Counted only when the field is selected: it is a second provider query. */
  totalCount: () => Promise<number | null>;
}
