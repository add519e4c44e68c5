import type { ServerAdapterPlugin } from '@whatwg-node/server';
import { graphiqlAsset } from '../graphiql/graphiql-assets.js';

/** Serves GraphiQL's scripts and styles from the installed package, so the page works offline (no CDN). */
export function useGraphiQLAssets(): ServerAdapterPlugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (request.method !== 'GET') return;
      const asset = await graphiqlAsset(url.pathname);
      if (asset) endResponse(asset);
    },
  };
}
