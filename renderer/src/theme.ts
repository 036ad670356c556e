// Light and dark MUI themes; "system" follows the OS colour scheme.
import { createTheme, type Theme } from '@mui/material/styles';

export function makeTheme(mode: 'light' | 'dark'): Theme {
  return createTheme({
    palette: {
      mode,
      primary: { main: mode === 'dark' ? '#8ab4f8' : '#3451b2' },
      secondary: { main: mode === 'dark' ? '#f0a868' : '#c2561a' },
      background: mode === 'dark' ? { default: '#121316', paper: '#1c1d21' } : { default: '#f4f5f7', paper: '#ffffff' },
    },
    shape: { borderRadius: 8 },
    typography: { fontSize: 13, fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif' },
    components: {
      MuiButtonBase: { defaultProps: { disableRipple: false } },
      MuiTextField: { defaultProps: { size: 'small' } },
      MuiSelect: { defaultProps: { size: 'small' } },
      // A clearly visible keyboard focus ring on every interactive element.
      MuiCssBaseline: {
        styleOverrides: {
          ':focus-visible': { outline: `2px solid ${mode === 'dark' ? '#8ab4f8' : '#3451b2'}`, outlineOffset: 2 },
        },
      },
    },
  });
}
