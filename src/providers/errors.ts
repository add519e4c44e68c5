/**
 * Provider-level failures: what a provider throws when it cannot give an outcome. They say what went
 * wrong at the provider, in its terms; the provider access layer (src/provider-access/) turns them
 * into the domain errors clients see, in one place.
 */

/** The provider cannot serve the call now: unreachable, 5xx, refused credentials, no endpoint. */
export class ProviderUnavailable extends Error {
  override name = 'ProviderUnavailable';
}

/** A page was asked to start after an image the provider no longer has (a Glance marker). */
export class PageKeyNotFound extends Error {
  override name = 'PageKeyNotFound';
}

/** The image was deleted at the provider (by someone else) while an operation on it was under way. */
export class ImageGone extends Error {
  override name = 'ImageGone';
}

/** The provider would not take the image's bytes: it was deactivated, killed or otherwise closed to uploads. */
export class UploadRefused extends Error {
  override name = 'UploadRefused';
}

/** The provider fetched a remote image itself (Glance web-download) and could not: it refused the URL, or the download failed. */
export class RemoteFetchFailed extends Error {
  override name = 'RemoteFetchFailed';
  constructor(
    readonly refusedUrl: boolean,
    message: string,
  ) {
    super(message);
  }
}
