// A refused send (DLP) opens the DLP dialog; anything else is a toast.
import { ApiError } from '../api';
import { openDlp, showError } from '../store';

export function handleSendError(e: unknown, resend: () => void, file = false) {
  if (e instanceof ApiError && (e.code === 'dlp_blocked' || e.code === 'dlp_confirm_required')) {
    // A refused secure pack names each file and what was found in it.
    const perFile = (e.detail.files || []).flatMap((f: any) => (f.findings?.length ? f.findings : [{ detector: f.reason }])
      .map((x: any) => ({ ...x, masked: `${f.filename}${x.masked ? ': ' + x.masked : ''}` })));
    openDlp({ kind: e.code === 'dlp_blocked' ? 'blocked' : 'confirm', message: e.message, findings: [...(e.detail.findings || []), ...perFile],
      retry: e.code === 'dlp_confirm_required' ? resend : undefined, file });
  } else if (e instanceof ApiError && e.code === 'sending_suspended') {
    openDlp({ kind: 'suspended', message: e.message, findings: [], until: e.detail.suspended_until });
  } else showError(e);
}
