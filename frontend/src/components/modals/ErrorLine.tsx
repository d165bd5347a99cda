import { errorMessage } from '../../api/http';

/** A failed request's message under a dialog's form, read out when it appears. */
export function ErrorLine({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="form-error" role="alert">
      {errorMessage(error)}
    </p>
  );
}
