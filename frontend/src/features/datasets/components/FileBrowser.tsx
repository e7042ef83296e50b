import { useState } from "react";
import { ErrorMessage, Spinner } from "@/components/feedback";
import { Modal } from "@/components/Modal";
import { useFiles } from "../api";

function formatSize(size: number | null): string {
  if (size === null) return "";
  if (size < 1024) return `${size} B`;
  if (size < 1024 ** 2) return `${(size / 1024).toFixed(1)} KB`;
  if (size < 1024 ** 3) return `${(size / 1024 ** 2).toFixed(1)} MB`;
  return `${(size / 1024 ** 3).toFixed(1)} GB`;
}

/** The server-side file browser: lists only inside the server's data roots (GET /api/files). */
export function FileBrowser({ onPick, onClose }: { onPick: (path: string) => void; onClose: () => void }) {
  const [path, setPath] = useState<string | null>(null);
  const files = useFiles(path);
  const listing = files.data;
  return (
    <Modal title="Choose a file or folder on the server" onClose={onClose} wide>
      <div className="files" data-testid="file-browser">
        <div className="files-bar">
          <button type="button" className="btn small" disabled={path === null} onClick={() => setPath(listing?.parent ?? null)}>
            ↑ Up
          </button>
          <code className="files-path">{listing?.path ?? "data roots"}</code>
          {listing?.path && (
            <button type="button" className="btn small primary" onClick={() => onPick(listing.path as string)}>
              Use this folder
            </button>
          )}
        </div>
        {files.isPending && <Spinner />}
        {files.isError && <ErrorMessage error={files.error} title="Cannot list this folder" onRetry={() => files.refetch()} />}
        {listing && listing.path === null && (
          <ul className="files-list">
            {listing.roots.map((root) => (
              <li key={root}>
                <button type="button" className="file dir" onClick={() => setPath(root)}>
                  <span className="file-icon" aria-hidden>▣</span>
                  <span className="file-name">{root}</span>
                </button>
              </li>
            ))}
            {listing.roots.length === 0 && <li className="hint">The server has no data roots configured (DATAVISOR_DATA_ROOTS).</li>}
          </ul>
        )}
        {listing && listing.path !== null && (
          <ul className="files-list">
            {listing.entries.length === 0 && <li className="hint">This folder is empty.</li>}
            {listing.truncated && <li className="hint">Only the first {listing.entries.length.toLocaleString()} entries are listed; type the path instead.</li>}
            {listing.entries.map((entry) => (
              <li key={entry.path}>
                <button
                  type="button"
                  className={`file ${entry.kind}`}
                  onClick={() => (entry.kind === "dir" ? setPath(entry.path) : onPick(entry.path))}
                  onDoubleClick={() => entry.kind === "dir" && onPick(entry.path)}
                  title={entry.kind === "dir" ? "open (double-click: use this folder)" : "use this file"}
                >
                  <span className="file-icon" aria-hidden>{entry.kind === "dir" ? "▸" : "·"}</span>
                  <span className="file-name">{entry.name}</span>
                  <span className="file-size num">{formatSize(entry.size)}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </Modal>
  );
}
