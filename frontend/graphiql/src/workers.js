// Monaco runs its language services in web workers. The build emits each worker as its own
// script next to the main bundle; this tells Monaco where to find them.
const assetsBase = new URL('.', import.meta.url);

function workerUrl(name) {
  return new URL(name, assetsBase).href;
}

globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    switch (label) {
      case 'json':
        return new Worker(workerUrl('json.worker.js'));
      case 'graphql':
        return new Worker(workerUrl('graphql.worker.js'));
      default:
        return new Worker(workerUrl('editor.worker.js'));
    }
  },
};
