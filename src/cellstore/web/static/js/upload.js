// Upload of an instrument file or a CSV/parquet time series: stored as raw data through a signed
// URL (XMLHttpRequest, for its progress events), then converted by the server into a measurement.

import { ApiError, get, networkError, post } from "./api.js";

function contentTypeOf(file) {
  if (file.type) return file.type;
  if (/\.csv$/i.test(file.name)) return "text/csv";
  return "application/octet-stream";
}

function put(target, file, contentType, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", target);
    xhr.setRequestHeader("Content-Type", contentType);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
        return;
      }
      let message = `The storage refused the file (HTTP ${xhr.status}).`;
      try {
        const body = JSON.parse(xhr.responseText);
        if (body && body.message) message = `The storage refused the file: ${body.message}`;
      } catch {
        // not JSON (an S3 XML error): keep the status
      }
      reject(new ApiError(xhr.status, "STORAGE", message));
    });
    xhr.addEventListener("error", () => reject(networkError()));
    xhr.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
    signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(file);
  });
}

// stages: "initiate", "transfer", "confirm", "convert"; then the measurement (pending) is returned.
// ``timezone``: the instrument clock's zone, for files that write local time without one ("" for UTC).
export async function uploadFile({ projectId, instanceId, file, name, timezone, onStage, onProgress, signal }) {
  const common = {
    project_id: projectId,
    name: file.name,
    filename: file.name,
    content_type: contentTypeOf(file),
  };
  onStage("initiate");
  const started = await post("/raw_data/initiate-upload", common, signal);
  const target = started.uploads?.[0];
  if (!target) throw new ApiError(500, "UPLOAD", "The server gave no address to upload to.");
  onStage("transfer");
  await put(target.signed_url, file, common.content_type, onProgress, signal);
  onStage("confirm");
  await post(`/raw_data/${started.raw_data_id}/confirm-upload`, { ...common, size_bytes: file.size }, signal);
  onStage("convert");
  return post(
    `/raw_data/${started.raw_data_id}/convert`,
    { cell_instance_id: instanceId, measurement: { name }, ...(timezone ? { timezone } : {}) },
    signal,
  );
}

// Poll a measurement until it is ready or failed (every 2 s, as the client does).
export async function waitForProcessing(id, onUpdate, signal) {
  for (;;) {
    const measurement = await get(`/cell_measurements/${id}`, undefined, signal);
    onUpdate(measurement);
    const status = measurement.processing_status;
    if (!status || status === "ready" || status === "failed") return measurement;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, 2000);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new DOMException("aborted", "AbortError"));
      });
    });
  }
}
