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
  // the box editor of the sample view (features/sample)
  ["a", "draw a new ground-truth box"],
  ["t", "change the selected box's class"],
  ["Del", "delete the selected ground-truth box"],
  ["← ↑ → ↓ (Shift ×10)", "move the selected ground-truth box by 1 image pixel (one edit per burst)"],
  ["p", "promote the selected prediction to ground truth"],
  ["c / w / b / d / x", "prediction verdict: correct / wrong class / bad box / duplicate / not an error"],
  ["c / w / m / i", "ground-truth verdict: correct / wrong label / missing object / ignore"],
  ["r / f / u", "sample: reviewed / needs fix / unreviewed"],
  ["n", "next unreviewed sample"],
  ["Ctrl+Z / Ctrl+Shift+Z", "undo / redo the dataset's last edit"],
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
