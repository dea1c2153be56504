// A refused send (DLP) opens the DLP dialog; anything else is a toast.
import { ApiError } from '../api';
import { S, changed, showError } from '../store';

export function handleSendError(e: unknown, resend: () => void) {
  if (e instanceof ApiError && (e.code === 'dlp_blocked' || e.code === 'dlp_confirm_required')) {
    // A refused secure pack names each file and what was found in it.
    const perFile = (e.detail.files || []).flatMap((f: any) => (f.findings?.length ? f.findings : [{ detector: f.reason }])
      .map((x: any) => ({ ...x, masked: `${f.filename}${x.masked ? ': ' + x.masked : ''}` })));
    S.dlp = { kind: e.code === 'dlp_blocked' ? 'blocked' : 'confirm', message: e.message, findings: [...(e.detail.findings || []), ...perFile],
      retry: e.code === 'dlp_confirm_required' ? resend : undefined };
    changed();
  } else showError(e);
}
