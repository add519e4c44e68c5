import type { GraphiQLOptions } from 'graphql-yoga';

/** Where the server serves GraphiQL's own files (see graphiql-assets.ts). */
export const GRAPHIQL_ASSETS_PATH = '/graphiql-assets';

export const EXAMPLE_QUERY = `# Welcome to imagegraph. Press the run button (or Ctrl-Enter).
query Images {
  viewer { subject platformAdmin organizations { id role } }
  regions {
    id
    name
    provider
    images(first: 10, orderBy: { field: NAME, direction: ASC }) {
      totalCount
      nodes { id name status visibility os { distro version } organization { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
`;

/**
 * The GraphiQL page, like yoga's default but loading every script, style sheet and Monaco worker from
 * this server instead of a CDN, so it works offline and behind strict egress rules.
 */
export function renderGraphiQLPage(options?: GraphiQLOptions): string {
  const assets = GRAPHIQL_ASSETS_PATH;
  const title = escapeHtml(options?.title ?? 'imagegraph');
  // JSON inside <script>: escape "<" so no string in it can close the element.
  const json = JSON.stringify(options ?? {}).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="stylesheet" href="${assets}/graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>You need to enable JavaScript to run GraphiQL.</noscript>
<div id="root">Loading ${title}...</div>
<script>
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (_moduleId, label) {
      var file = { json: 'json.worker.bundle.js', graphql: 'graphql.worker..bundle.js' }[label] || 'editor.worker.bundle.js';
      return '${assets}/monacoeditorwork/' + file;
    }
  };
</script>
<script src="${assets}/yoga-graphiql.umd.js"></script>
<script>
  var options = ${json};
  // @graphql-yoga/graphiql 4.5 always hands GraphiQL an initialQuery (the URL's ?query=, else options.query,
  // else its welcome text), which wins over defaultQuery: pass the default as the query unless the URL has one.
  if (options.defaultQuery && !options.query && !new URLSearchParams(location.search).get('query')) {
    options.query = options.defaultQuery;
  }
  YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
</script>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
