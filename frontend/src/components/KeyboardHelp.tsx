import { useState } from "react";
import { useHotkeys } from "@/hooks/useHotkeys";
import { Modal } from "./Modal";

const KEYS: [string, string][] = [
  ["?", "show or hide this help"],
  ["/", "focus the file-name search"],
  ["Enter", "open the focused sample"],
  ["← / →", "previous / next sample in the sample view"],
  ["Esc", "close the sample view or a dialog"],
  ["Click", "open a sample (toggle it while a selection exists)"],
  ["Ctrl/⌘-click", "add or remove one sample from the selection"],
  ["Shift-click", "select the range from the last clicked sample"],
  ["l", "labels on / off"],
  ["g", "ground-truth boxes on / off"],
  ["+ / −", "bigger / smaller thumbnails"],
];

export function KeyboardHelp() {
  const [open, setOpen] = useState(false);
  useHotkeys({ "?": () => setOpen((v) => !v) });
  if (!open) return null;
  return (
    <Modal title="Keyboard shortcuts" onClose={() => setOpen(false)}>
      <table className="keys">
        <tbody>
          {KEYS.map(([key, what]) => (
            <tr key={key}>
              <td>
                <kbd>{key}</kbd>
              </td>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}
